{{ check_entity('response_assessments') }}
