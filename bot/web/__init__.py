"""The staff desk: a small server-rendered web app where named staff read and decide cases."""
