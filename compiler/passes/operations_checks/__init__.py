"""Passes over operations: when orchestrators run a spec's jobs (`schedule:` on models,
their monitoring and feature views) and how a new version takes traffic (`rollout:`)."""
