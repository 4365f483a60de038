{# For every centre and step, the reasons of cohort_exclusions add up to cohort_flow.excluded_n. #}
with flow as (
    select * from {{ ref('cohort_flow') }}
),

reasons as (
    select centre_code, step_order, sum(n) as n
    from {{ ref('cohort_exclusions') }}
    group by centre_code, step_order
)

select flow.centre_code, flow.step_order, flow.excluded_n, reasons.n as by_reason
from flow
full outer join reasons
    on flow.centre_code = reasons.centre_code
    and flow.step_order = reasons.step_order
where flow.step_order is distinct from 1
    and flow.excluded_n is distinct from reasons.n
