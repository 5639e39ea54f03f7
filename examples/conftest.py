"""Opts the example tests in to the zmqstreams pytest plugin (it never activates by itself)."""

pytest_plugins = ["zmqstreams.testing"]
