/** About 1 KB of JSON shaped like one page of a mail API's message list. */
export const MAIL_BODY: Buffer = Buffer.from(
  JSON.stringify({
    '@odata.context': 'https://mail.example.test/api/mail/v1.0/$metadata#users/messages',
    value: [
      {
        id: 'AAMkAGI2THVSAAA=',
        createdDateTime: '2024-05-02T08:14:09Z',
        receivedDateTime: '2024-05-02T08:14:10Z',
        subject: 'Quarterly numbers: draft for review before Thursday',
        bodyPreview:
          'Hi all, attached is the draft of the quarterly report. Please send comments by Wednesday noon so that we can fold them in before the board pack goes out.',
        importance: 'normal',
        isRead: false,
        hasAttachments: true,
        conversationId: 'AAQkAGI2TAAA=',
        from: { emailAddress: { name: 'Dana Whitfield', address: 'dana.whitfield@contoso.example' } },
        toRecipients: [
          { emailAddress: { name: 'Finance Team', address: 'finance@contoso.example' } },
          { emailAddress: { name: 'Alice Example', address: 'alice@contoso.example' } },
        ],
        categories: ['Finance'],
        flag: { flagStatus: 'notFlagged' },
        webLink:
          'https://mail.example.test/owa/?ItemID=AAMkAGI2THVSAAA%3D&exvsurl=1&viewmodel=ReadMessageItem',
      },
    ],
    '@odata.nextLink': 'https://mail.example.test/api/mail/v1.0/me/messages?$skip=1',
  }),
);
