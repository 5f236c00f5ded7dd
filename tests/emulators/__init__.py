"""Local emulators of the SaaS APIs, for tests: the real SDKs talk to them over HTTP."""
