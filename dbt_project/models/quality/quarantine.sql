{#
  Whole rows held back: every staged row that did not flow on, one row per reason. A row is
  held back when a key field breaks its contract (the patient id, the entity's key, the date
  that anchors the row: macros/intermediate/check_entity.sql), or when it is one of several
  rows with the same key and different content (conflicting duplicates are all quarantined).
  Every breach of a held-back row is listed, key or not. Values set to missing in rows that
  flow on are in quality.nulled_fields, not here. PHI values are masked in staging already.
  Identifies patients by patient_key only; restricted.centre_queries adds the centre's ids.
#}
{%- set entities = canonical_columns().keys() | list -%}
{%- set keys = canonical_keys() -%}
with

{% for entity in entities %}
{{ entity }}_quarantined as (
    select '{{ entity }}' as entity, *
    from {{ ref('int_' ~ entity ~ '_checked') }}
    where _row_status = 'quarantined'
),
{% endfor %}

contract_breaches as (
    {%- for entity in entities %}
    select
        entity, centre_code, _delivery_id, _source_file, _row_number, _source_day, patient_key,
        unnest(_violations, recursive := true)
    from {{ entity }}_quarantined
    where len(_violations) > 0
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

conflicting_duplicates as (
    {%- for entity in entities %}
    select
        entity, centre_code, _delivery_id, _source_file, _row_number, _source_day, patient_key,
        '{{ keys[entity] | join(", ") }}' as "column",
        cast(null as varchar) as "value",
        'conflicting_duplicate' as "rule",
        cast(null as varchar) as allowed,
        true as key_field
    from {{ entity }}_quarantined
    where _status_rule = 'conflicting_duplicate'
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

breaches as (
    select * from contract_breaches
    union all
    select * from conflicting_duplicates
),

final as (
    select
        centre_code,
        _delivery_id as delivery_id,
        entity,
        _source_file as source_file,
        _row_number as source_row_number,
        _source_day as source_day,
        patient_key,
        "column" as column_name,
        "value",
        "rule",
        allowed,
        case
            when "rule" = 'conflicting_duplicate'
                then 'several rows share ' || "column" || ' with different values; all are held back'
            when key_field
                then {{ breach_message('"column"', '"value"', '"rule"', 'allowed') }}
                    || '; a key field, so the row is held back'
            else {{ breach_message('"column"', '"value"', '"rule"', 'allowed') }}
        end as message
    from breaches
)

select * from final
