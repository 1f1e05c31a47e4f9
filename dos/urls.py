"""The DOS workspace outside the admin (issue 7): the campaign dashboard and the exports."""


app_name = "dos"

urlpatterns: list = []
