{{ accept_entity('treatments') }}
