from django.contrib import admin
from django.urls import path

from . import views

admin.site.site_header = "JUMO – administration"
admin.site.site_title = "JUMO"
admin.site.index_title = "Campagne de jumelage des BMP"

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
]
