"""Training ops: preprocessing, the estimator allowlist, search, ONNX export and its benchmark."""
