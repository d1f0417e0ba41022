"""``python -m painflow_scheduling``: serve the scheduling service."""

from painflow_scheduling.app import create_app
from painflow_scheduling.settings import SchedulingSettings
from painflow_shared.serve import serve

if __name__ == "__main__":
    settings = SchedulingSettings()
    serve(create_app(settings), settings)
