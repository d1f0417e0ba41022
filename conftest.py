pytest_plugins = ["painflow_shared.testing.fixtures"]
