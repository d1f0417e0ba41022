"""``python -m painflow_referral``: serve the referral service."""

from painflow_referral.app import create_app
from painflow_referral.settings import ReferralSettings
from painflow_shared.serve import serve

if __name__ == "__main__":
    settings = ReferralSettings()
    serve(create_app(settings), settings)
