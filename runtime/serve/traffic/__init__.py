"""Progressive delivery while serving: a canary share or a shadow of a challenger beside
the champion, as the governance store's signed rollout says (docs/serving.md, "Canary and
shadow routing").

`build_routed_service` is `lean.build_service` plus a follower that, on every re-check
round, loads the rollout's challenger through the same admission as any model, attaches a
`TrafficRouter` to the service while the rollout may route, drops it when the rollout
ends or stops being valid, and swaps the challenger in as the champion on a promotion.
"""

from specops.runtime.serve.traffic.rollout_follow import RolloutFollower, build_routed_service
from specops.runtime.serve.traffic.router import OutcomeLog, TrafficRouter
from specops.runtime.serve.traffic.sticky_split import BUCKETS, bucket, routing_key, to_challenger

__all__ = ["BUCKETS", "OutcomeLog", "RolloutFollower", "TrafficRouter", "bucket",
           "build_routed_service", "routing_key", "to_challenger"]
