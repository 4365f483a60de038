{{ union_staged('follow_up_events') }}
