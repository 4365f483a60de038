{{ check_entity('infusions') }}
