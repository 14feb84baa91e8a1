"""Wire formats and connection limits beyond plain OIP JSON: the binary tensor data
extension, Triton's config/repository routes, uvicorn protocol limits, OIP over gRPC."""
