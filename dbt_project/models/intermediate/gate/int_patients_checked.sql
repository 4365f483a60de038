{{ check_entity('patients') }}
