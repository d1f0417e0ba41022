"""Authorization: SMART scopes, bearer token verification, the route guard, the token client."""
