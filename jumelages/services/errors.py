"""The workflow's refusal: WorkflowError, whose message is the French sentence the user sees."""


class WorkflowError(Exception):
    """A refusal of the workflow; str(error) is the French sentence shown to the user."""

    @property
    def message(self) -> str:
        return str(self)
