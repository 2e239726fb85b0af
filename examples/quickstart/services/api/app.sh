#!/bin/sh
echo "api starting in ${APP_ENV}"
exec httpd -f -p 9090 -h /app
