from tests.api.conftest import as_user  # noqa: F401  (the API tests' client per demo user)
