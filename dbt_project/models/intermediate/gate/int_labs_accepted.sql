{{ accept_entity('labs') }}
