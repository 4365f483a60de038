{{ check_entity('treatments') }}
