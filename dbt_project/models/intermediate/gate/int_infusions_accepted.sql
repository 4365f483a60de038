{{ accept_entity('infusions') }}
