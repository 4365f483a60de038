{#
  The last date each patient is known alive: the latest date of any record of the patient in
  any file of the current deliveries (infusions, daily observations, labs, kinetics,
  treatments, response assessments, follow-up events other than death). Death records are
  left out (a death is not a sign of life); int_survival_derived treats a death dated after
  the cut-off as "known alive at the cut-off". Dates are not truncated at the cut-off here.
#}
with

records as (
    {%- for entity, date_column in entity_date_columns().items() %}
    select patient_key, {{ date_column }} as record_date, '{{ entity }}' as source_entity
    from {{ ref('int_' ~ entity ~ '_accepted') }}
    {%- if entity == 'follow_up_events' %}
    where event_type is distinct from 'death'
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

ranked as (
    select
        patient_key,
        record_date,
        source_entity,
        row_number() over (
            partition by patient_key order by record_date desc, source_entity
        ) as recency_rank
    from records
    where patient_key is not null
        and record_date is not null
),

final as (
    select
        patient_key,
        record_date as last_known_alive_date,
        source_entity as last_known_alive_source
    from ranked
    where recency_rank = 1
)

select * from final
