"""Evaluation harness: golden sets and BEIR directories through any mode, with ACL-leak checks."""
