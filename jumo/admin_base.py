"""What the admin pages of JUMO share."""


class SansEcritureMixin:
    """Rows written by the application only (workflow, refresh, outbox, journals): the admin shows
    them, and never adds, changes or deletes one. For model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
