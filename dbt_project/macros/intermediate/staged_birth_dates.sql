{#
  Dates of birth and sex of every centre's staged patients. Dates of birth stop at staging:
  models may read them through this macro to derive something (an age, an identity match)
  but must not select them into their output.
#}
{% macro staged_birth_dates(condition='true') %}
    {%- for centre in cartwh_centres() %}
    select centre_code, centre_patient_id, date_of_birth, sex
    from {{ ref('stg_' ~ centre ~ '__patients') }}
    where {{ condition }}
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select cast(null as varchar) as centre_code, cast(null as varchar) as centre_patient_id,
        cast(null as date) as date_of_birth, cast(null as varchar) as sex
    where false
    {%- endfor %}
{% endmacro %}
