{{ union_staged('daily_observations') }}
