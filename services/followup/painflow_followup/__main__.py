"""``python -m painflow_followup``: serve the follow-up service."""

from painflow_followup.app import create_app
from painflow_followup.settings import FollowupSettings
from painflow_shared.serve import serve

if __name__ == "__main__":
    settings = FollowupSettings()
    serve(create_app(settings), settings)
