{{ accept_entity('patients') }}
