{#
  The only place where a centre's own patient id and the pseudonymous patient_key meet.
  patient_key = hex HMAC-SHA256(CARTWH_SECRET, centre_code || 0x1F || trim(centre_patient_id)),
  computed by the cartwh_patient_key UDF (cartwh/transform/plugin.py) so that the key is never in SQL.
#}
{%- set centres = cartwh_centres() -%}
{%- set entities = canonical_columns().keys() | list -%}
with

delivered_ids as (
    {%- for centre in centres %}
    {%- set outer_loop = loop %}
    {%- for entity in entities %}
    select centre_code, centre_patient_id from {{ ref('stg_' ~ centre ~ '__' ~ entity) }}
    {% if not (loop.last and outer_loop.last) %}union all{% endif %}
    {%- endfor %}
    {%- else %}
    select cast(null as varchar) as centre_code, cast(null as varchar) as centre_patient_id
    where false
    {%- endfor %}
),

-- one distinct over all the staged ids (a chain of unions would deduplicate at each step)
distinct_ids as (
    select distinct centre_code, centre_patient_id
    from delivered_ids
    where centre_patient_id is not null
),

keyed as (
    select
        centre_code,
        centre_patient_id,
        cartwh_patient_key(centre_code, centre_patient_id) as patient_key
    from distinct_ids
)

select * from keyed
