from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "JUMO – administration"
admin.site.site_title = "JUMO"
admin.site.index_title = "Campagne de jumelage des BMP"
# The lists of the DOS workspace are wide (jumelages: schools, totals, zones, distances, state): the
# page keeps its width for them; the index and the breadcrumbs lead everywhere.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", include("web.urls")),
    path("dos/", include("dos.urls")),
    path("admin/", admin.site.urls),
]

# Operations and SSO (issue 8): the load balancer's health check, ProConnect's routes.
from ops.views import healthz  # noqa: E402

urlpatterns += [
    path("healthz", healthz, name="healthz"),
    path("oidc/", include("sso.urls")),
]
