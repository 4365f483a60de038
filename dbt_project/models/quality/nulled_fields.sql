{#
  Values set to missing: one row per breach of a non-key field (a code outside its list, an
  unreadable or out-of-range value, a required value missing) in a row that flows on
  (status passed in int_<entity>_checked). The value does not reach the marts; the rest of
  its row does, and the value is queried back to the centre with what its rule allows.
  Breaches of rows held back whole are in quality.quarantine; those of removed exact copies
  are accounted for by the copy that was kept. PHI values are masked in staging already.
#}
{%- set entities = canonical_columns().keys() | list -%}
with

breaches as (
    {%- for entity in entities %}
    select
        '{{ entity }}' as entity, centre_code, _delivery_id, _source_file, _row_number,
        _source_day, patient_key,
        unnest(list_filter(_violations, lambda v: not v.key_field), recursive := true)
    from {{ ref('int_' ~ entity ~ '_checked') }}
    where _row_status = 'passed' and len(_violations) > 0
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
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
        {{ breach_message('"column"', '"value"', '"rule"', 'allowed') }}
            || '; set to missing, the rest of the row is kept' as message
    from breaches
)

select * from final
