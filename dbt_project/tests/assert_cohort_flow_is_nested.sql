{# Attrition never grows: steps 2-5 <= step 1, steps 3-5 <= step 2, step 5 <= step 4. #}
with flow as (
    select * from {{ ref('cohort_flow') }}
),

by_centre as (
    select
        centre_code,
        max(n) filter (where step_order = 1) as delivered,
        max(n) filter (where step_order = 2) as infused,
        max(n) filter (where step_order = 3) as gradable,
        max(n) filter (where step_order = 4) as evaluable,
        max(n) filter (where step_order = 5) as in_cr
    from flow
    group by centre_code
)

select *
from by_centre
where infused > delivered
    or gradable > infused
    or evaluable > infused
    or in_cr > evaluable
