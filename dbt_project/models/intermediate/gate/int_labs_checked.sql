{{ check_entity('labs') }}
