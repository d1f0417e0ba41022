"""``python -m painflow_assessment``: serve the assessment service."""

from painflow_assessment.app import create_app
from painflow_assessment.settings import AssessmentSettings
from painflow_shared.serve import serve

if __name__ == "__main__":
    settings = AssessmentSettings()
    serve(create_app(settings), settings)
