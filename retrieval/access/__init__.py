"""The access explainer: why a person can or cannot see a document, and who can see it."""
