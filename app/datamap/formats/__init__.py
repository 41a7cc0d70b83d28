"""Data-map file formats: canonical YAML/JSON, CSV, and Fides manifests with an assignments CSV."""
