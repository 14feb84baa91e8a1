"""Online features for the model server: raw request fields -> the model's input vector.

See online_mode.py (the server mode), raw_signature.py (the request derived from the
specs), online_vector.py (one request's vector), row_closures.py (the compiled trees) and
lookup_batcher.py (one store round trip for the requests in flight).
"""

from specops.runtime.serve.features.online_mode import (
    FEATURE_MODES,
    OnlineFeatures,
    build_online,
    enable_online,
)
from specops.runtime.serve.features.online_vector import RAW_PREFIX, TIME_COLUMN, OnlineVector
from specops.runtime.serve.features.raw_signature import (
    RawSignature,
    RawSignatureError,
    raw_signature,
)

__all__ = ["FEATURE_MODES", "RAW_PREFIX", "TIME_COLUMN", "OnlineFeatures", "OnlineVector",
           "RawSignature", "RawSignatureError", "build_online", "enable_online",
           "raw_signature"]
