{{ accept_entity('daily_observations') }}
