{{ accept_entity('follow_up_events') }}
