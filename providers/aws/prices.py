"""AWS list prices: one place, with their source and date (``healstack explain`` prices one
recovery with them; the cost benchmark, ``benchmarks/cost.py``, prices simulated runs).

us-east-1 list prices as stated in issue #6 (November 2026), from the AWS pricing pages
below; check the pages before quoting a figure, prices change. Free tiers are ignored.
"""

from __future__ import annotations

#: https://aws.amazon.com/step-functions/pricing/ (Standard workflows): $0.025 per 1,000
#: state transitions; a retry counts as another transition
STEP_FUNCTIONS_STANDARD_PER_TRANSITION_USD = 0.025 / 1_000

#: https://aws.amazon.com/lambda/pricing/: $0.20 per 1M requests
LAMBDA_PER_REQUEST_USD = 0.20 / 1_000_000

#: https://aws.amazon.com/lambda/pricing/: arm64 (Graviton) duration, first pricing tier
LAMBDA_ARM64_PER_GB_SECOND_USD = 0.0000133334

#: Lambda bills duration rounded up to the next millisecond (the memory is each function's
#: own, read from the synthesized stack: 128 MB for every healstack function)
LAMBDA_BILLING_GRANULARITY_S = 0.001

PRICES_AS_OF = "2026-11 (issue #6)"
