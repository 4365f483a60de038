{{ accept_entity('car_t_kinetics') }}
