{{ check_entity('follow_up_events') }}
