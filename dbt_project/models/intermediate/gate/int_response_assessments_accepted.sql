{{ accept_entity('response_assessments') }}
