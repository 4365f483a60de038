{#
  Every staged row that did not flow on because it breaks its contract, one row per breach,
  or because it is one of several rows with the same key and different content
  (conflicting duplicates are all quarantined). PHI values are masked in staging already.
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
        'conflicting_duplicate' as "rule"
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
        case "rule"
            when 'required_missing' then "column" || ' is required but empty'
            when 'unknown_code' then "column" || ': ''' || "value" || ''' is not a known code'
            when 'unparsable' then "column" || ': ''' || "value" || ''' cannot be read with the declared format'
            when 'out_of_range' then "column" || ': ' || "value" || ' is outside the allowed range'
            when 'conflicting_duplicate'
                then 'several rows share ' || "column" || ' with different values; all are held back'
        end as message
    from breaches
)

select * from final
