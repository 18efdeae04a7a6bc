"""Load-test result readers: k6, Locust, JMeter, Gatling and hey, normalised to one table."""
