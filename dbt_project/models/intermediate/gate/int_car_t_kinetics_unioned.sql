{{ union_staged('car_t_kinetics') }}
