"""The feedback form of the tutorial (manual 3.1), in Python 3.

form.html posts its three fields to form.py/email; the publisher calls
email() with the request and the fields of the same names.

The 3.3 example mailed the comment to the webmaster with smtplib. So that
it runs anywhere, this one builds the same message but does not send it:
it writes the message to Apache's error log and shows it on the page. The
lines to send it for real are in email(), commented out.
"""

import html
from email.message import EmailMessage

from mod_python import apache

WEBMASTER = "webmaster"  # webmaster e-mail
SMTP_SERVER = "localhost"  # your SMTP server


def email(req, name, email, comment):
    # make sure the user provided all the parameters
    if not (name and email and comment):
        return "A required parameter is missing, please go back and correct the error"
    if "\r" in email or "\n" in email:
        return "Please give your e-mail address on one line"

    # create the message
    msg = EmailMessage()
    msg["From"] = email
    msg["Subject"] = "feedback"
    msg["To"] = WEBMASTER
    msg.set_content(f"I have the following comment:\n\n{comment}\n\nThank You,\n\n{name}\n")

    # send it out -- here: log it instead. To send it, use
    #     import smtplib
    #     with smtplib.SMTP(SMTP_SERVER) as conn:
    #         conn.send_message(msg)
    for line in msg.as_string().splitlines():
        req.log_error(f"form.py would send: {line}", apache.APLOG_NOTICE)

    # provide feedback to the user; what the user typed is escaped, as
    # anything from a client must be before it goes into a page
    return f"""\
<html>

Dear {html.escape(name)},<br>
Thank You for your kind comments, we
will get back to you shortly.

<p>This is the message that would have been sent:</p>
<pre>{html.escape(msg.as_string())}</pre>

</html>"""
