"""``python -m painflow_clinic``: the clinic web app on CLINIC_HOST:CLINIC_PORT (127.0.0.1:8005)."""

from __future__ import annotations

import uvicorn

from painflow_clinic.app import create_app
from painflow_clinic.settings import ClinicSettings


def main() -> None:
    settings = ClinicSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
