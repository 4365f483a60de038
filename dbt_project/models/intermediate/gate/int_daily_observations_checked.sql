{{ check_entity('daily_observations') }}
